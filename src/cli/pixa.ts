import { parseArgs } from 'node:util';

import { ConfigError } from '../config/config.js';
import { envMarkdownTable, envVarDocs } from '../config/env-schema.js';
import { formatStartupError, StartupError } from '../lib/startup-errors.js';
import { runAdminCommand } from './admin.js';

const USAGE = `Usage: pixa <command>

  serve [--services gateway,auth,...]   start Pixa (default: every service in one process, http://localhost:8080);
                                        with PIXA_MODE=pod each listed service on its own port, talking over HTTP
  migrate                               apply database migrations
  user create <name> [--admin] [--password <pw>]   create an account (password read from PIXA_NEW_PASSWORD or generated)
  user list                             list accounts with their usage
  user set-quota <name> [--storage-mb N|default] [--transfer-mb N|default]
  user delete <name>                    delete an account and all its images
  storage sweep                         remove stored objects that no image refers to
  help env [--markdown]                 list the environment variables Pixa reads, with defaults

Settings are environment variables (PIXA_*): \`pixa help env\` lists them.
`;

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    // An unknown option or a flag without its value: say which, then how to call.
    if (!String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) throw error;
    process.stderr.write(`pixa: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { positionals, values } = parsed;
  const [command = 'help', ...rest] = positionals;
  if (values.help || command === 'help') {
    // `--markdown` prints the README's configuration table, generated from the same schema.
    process.stdout.write(rest[0] !== 'env' ? USAGE : values.markdown ? envMarkdownTable() : envHelp());
    return 0;
  }
  try {
    if (command === 'serve') {
      const { serve } = await import('../main.js');
      await serve({ services: values.services });
      return -1; // keep running
    }
    return await runAdminCommand(command, rest, values, USAGE);
  } catch (error) {
    if (error instanceof StartupError) {
      process.stderr.write(formatStartupError(error.explanation));
      return 1;
    }
    if (error instanceof ConfigError || (error as { name?: string }).name === 'AppError') {
      process.stderr.write(`pixa: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}

function parseCommandLine(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      services: { type: 'string' },
      admin: { type: 'boolean' },
      password: { type: 'string' },
      'storage-mb': { type: 'string' },
      'transfer-mb': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      markdown: { type: 'boolean' },
    },
  });
}

/** Every variable of the config schema: name, default and meaning. */
function envHelp(): string {
  const docs = envVarDocs();
  const width = Math.max(...docs.map((doc) => doc.name.length));
  const lines = docs.map((doc) => {
    const fallback = doc.default ? ` (default: ${doc.default})` : '';
    return `  ${doc.name.padEnd(width)}  ${doc.description.replaceAll('`', '')}${fallback}`;
  });
  return `Environment variables (docs/OPERATIONS.md and the README explain them):\n\n${lines.join('\n')}\n`;
}
