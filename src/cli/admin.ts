import { randomBytes } from 'node:crypto';

import { createCore, type PixaCore } from '../app.js';
import { loadConfig } from '../config/config.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { mb } from '../lib/format.js';
import { usernameKey } from '../modules/auth/credential-rules.js';
import * as users from '../modules/auth/user.repository.js';
import { sweepOrphans, sweepSafetyWindowMs } from '../modules/images/sweeper.js';
import { checkDependencies, rethrowExplained, waitOptions } from './startup.js';

type Flags = { admin?: boolean; password?: string; 'storage-mb'?: string; 'transfer-mb'?: string };

const MB = 1024 * 1024;

/** The administrator's commands: they work on the database and store directly, no server needed. */
export async function runAdminCommand(command: string, args: string[], flags: Flags, usage: string): Promise<number> {
  const config = loadConfig();
  if (command === 'migrate') {
    // An init container may start before its database: pod mode waits for it like `serve` does.
    await checkDependencies(config, { database: true, store: false }, waitOptions(config));
    const database = await openDatabase(config.databaseUrl, { poolSize: 1 }).catch((error: unknown) =>
      rethrowExplained(error, config),
    );
    try {
      const applied = await migrateToLatest(database.db);
      out(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
    } finally {
      await database.close();
    }
    return 0;
  }
  // The command and its arguments are checked before anything is opened: a typo gets the usage.
  let action: Action | undefined;
  try {
    action = adminAction(command, args, flags);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`pixa: ${error.message}\n`);
    return 2;
  }
  if (!action) {
    process.stderr.write(usage);
    return 2;
  }
  const core = await createCore(config).catch((error: unknown) => rethrowExplained(error, config));
  try {
    return await action(core);
  } finally {
    await core.close();
  }
}

type Action = (core: PixaCore) => Promise<number>;

/** A mistake in the command line, told to the administrator without a stack trace. */
class UsageError extends Error {}

function adminAction(command: string, args: string[], flags: Flags): Action | undefined {
  const [sub, name] = args;
  if (command === 'user' && sub === 'create' && name) return (core) => createUser(core, name, flags);
  if (command === 'user' && sub === 'list') return listUsers;
  if (command === 'user' && sub === 'set-quota' && name) {
    const storage = quotaBytes(flags['storage-mb']);
    const transfer = quotaBytes(flags['transfer-mb']);
    if (storage === undefined && transfer === undefined) throw new UsageError('give --storage-mb and/or --transfer-mb');
    return (core) => setQuota(core, name, storage, transfer);
  }
  if (command === 'user' && sub === 'delete' && name) return (core) => deleteUser(core, name);
  if (command === 'storage' && sub === 'sweep') return sweep;
  return undefined;
}

/** A quota flag in MB as bytes; null for "default"; undefined when not given. */
function quotaBytes(raw: string | undefined): number | null | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'default') return null;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`a quota is a number of MB (0 = unlimited) or "default", not "${raw}"`);
  }
  return Math.round(value * MB);
}

async function sweep(core: PixaCore): Promise<number> {
  const report = await sweepOrphans(core.database.db, core.store, sweepSafetyWindowMs(core.config.requestTimeoutMs));
  for (const key of report.orphans) out(`removed ${key}`);
  out(`removed ${report.orphans.length} orphaned objects and ${report.incomplete} incomplete uploads`);
  return 0;
}

async function createUser(core: PixaCore, name: string, flags: Flags): Promise<number> {
  // eslint-disable-next-line no-restricted-properties -- a one-off secret for this command, not configuration
  const given = flags.password ?? process.env.PIXA_NEW_PASSWORD;
  const password = given ?? randomBytes(12).toString('base64url');
  const { user } = await core.auth.register(name, password, { role: flags.admin ? 'admin' : 'user' });
  out(`created ${user.role} ${user.username} (${user.id})`);
  if (!given) out(`password: ${password}`);
  return 0;
}

async function listUsers(core: PixaCore): Promise<number> {
  const rows = await users.listUsers(core.database.db);
  const quota = (own: number | null, fallback: number) => {
    const value = own ?? fallback;
    return `${value === 0 ? 'unlimited' : mb(value)}${own === null ? '' : ' (own)'}`;
  };
  for (const row of rows) {
    out(
      [
        row.username.padEnd(32),
        row.role.padEnd(5),
        `${mb(row.storage_used_bytes)} of ${quota(row.storage_quota_bytes, core.config.storageQuotaBytes)}`,
        `transfer ${quota(row.daily_transfer_bytes, core.config.dailyTransferBytes)}/day`,
      ].join('  '),
    );
  }
  out(`${rows.length} account${rows.length === 1 ? '' : 's'}`);
  return 0;
}

async function setQuota(
  core: PixaCore,
  name: string,
  storage: number | null | undefined,
  transfer: number | null | undefined,
): Promise<number> {
  const user = await users.findUserByKey(core.database.db, usernameKey(name));
  if (!user) return fail(`no account named ${name}`);
  await users.updateQuotas(core.database.db, user.id, {
    ...(storage !== undefined && { storage_quota_bytes: storage }),
    ...(transfer !== undefined && { daily_transfer_bytes: transfer }),
  });
  out(`updated quotas of ${user.username}`);
  return 0;
}

async function deleteUser(core: PixaCore, name: string): Promise<number> {
  const user = await users.findUserByKey(core.database.db, usernameKey(name));
  if (!user) return fail(`no account named ${name}`);
  const removed = await core.images.removeAll(user.id);
  await core.auth.deleteUser(user.id);
  out(`deleted ${user.username} and ${removed} image${removed === 1 ? '' : 's'}`);
  return 0;
}

const out = (line: string): void => void process.stdout.write(`${line}\n`);

function fail(message: string): number {
  process.stderr.write(`pixa: ${message}\n`);
  return 1;
}
