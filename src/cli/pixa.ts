import { parseArgs } from 'node:util';

import { ConfigError, importPassword } from '../config/config.js';
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
  import <folder> --server <url> --user <name> [--concurrency 2] [--dry-run]
                                        send a folder's photos (recursively) to a Pixa server, resumably;
                                        password from PIXA_PASSWORD or asked; photos already there are not sent
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
    if (command === 'import') return await importCommand(rest, values);
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

async function importCommand(rest: string[], values: ReturnType<typeof parseCommandLine>['values']): Promise<number> {
  const [folder] = rest;
  const concurrency = Number(values.concurrency ?? 2);
  if (!folder || !values.server || !values.user || !Number.isInteger(concurrency) || concurrency < 1) {
    process.stderr.write(`pixa: import needs a folder, --server <url> and --user <name>\n\n${USAGE}`);
    return 2;
  }
  const { readPassword, runImport, formatSummary } = await import('./import.js');
  const summary = await runImport({
    folder,
    server: values.server,
    user: values.user,
    password: await readPassword(importPassword(), values.user),
    concurrency,
    dryRun: values['dry-run'] ?? false,
    progress: (line) => process.stderr.write(`${line}\n`),
    print: (line) => process.stdout.write(`${line}\n`),
  });
  if (!values['dry-run']) process.stdout.write(formatSummary(summary));
  return summary.failed.length === 0 ? 0 : 1;
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
      server: { type: 'string' },
      user: { type: 'string' },
      concurrency: { type: 'string' },
      'dry-run': { type: 'boolean' },
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
