export enum Role {
  ADMIN = 'ADMIN',
  ACCOUNT = 'ACCOUNT',
}

/** Who is calling, resolved once per request from the bearer token. */
export type Viewer =
  | { role: Role.ADMIN; tokenId: string | null }
  | {
      role: Role.ACCOUNT;
      tokenId: string;
      accountId: string;
      /** Set when the token's account is an agency: the token reaches its sub-accounts too. */
      isAgency: boolean;
    };

export const isAdmin = (viewer: Viewer): viewer is Extract<Viewer, { role: Role.ADMIN }> => viewer.role === Role.ADMIN;

/** Implemented by the accounts module; kept as a token so infra does not import a domain module. */
export const TOKEN_AUTHENTICATOR = Symbol('TOKEN_AUTHENTICATOR');
export interface TokenAuthenticator {
  /** The viewer for a presented bearer token, or null when it is unknown or revoked. */
  authenticate(token: string): Promise<Viewer | null>;
}
