import { applyDecorators } from '@nestjs/common';
import { Field } from '@nestjs/graphql';
import { IsString, Length, Matches, MaxLength, ValidateIf } from 'class-validator';
import { given } from '../../../infra/input-transforms';

/** What a message says, validated alike for one-off sends (sendEmail) and campaigns (createCampaign). */

/** Required, one line (a line break would let the subject add headers of its own), RFC 5322's 998 characters at most. */
export const SubjectField = (): PropertyDecorator =>
  applyDecorators(
    Field(),
    IsString(),
    Length(1, 998, { message: 'subject must be 1 to 998 characters' }),
    Matches(/^[^\r\n]*$/, { message: 'subject must not contain line breaks' }),
  );

/** An optional body part (`html` or `text`), up to 2,000,000 characters. */
export const BodyField = (name: 'html' | 'text'): PropertyDecorator =>
  applyDecorators(
    Field(() => String, { nullable: true }),
    ValidateIf(given),
    IsString(),
    MaxLength(2_000_000, { message: `${name} must be at most 2,000,000 characters` }),
  );
