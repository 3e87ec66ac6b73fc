import type Redis from 'ioredis';

/**
 * Every command one client sends from now until `stop()`: name first, then its arguments. Not
 * MONITOR: that sees the whole server's traffic, and other test files' MULTI blocks running at the
 * same time derail ioredis's monitor mode ("Command queue state error").
 */
export function recordCommands(client: Redis): { commands: string[][]; stop(): void } {
  const commands: string[][] = [];
  const original = client.sendCommand.bind(client);
  client.sendCommand = ((command: Parameters<Redis['sendCommand']>[0], stream?: unknown) => {
    commands.push([command.name, ...command.args.map(String)]);
    return original(command, stream as never);
  }) as Redis['sendCommand'];
  return { commands, stop: () => void (client.sendCommand = original) };
}
