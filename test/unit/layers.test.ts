import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/** The rule ids that fail `code` as if it were the file at `filePath` of the project. */
async function violations(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: process.cwd() });
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? [])
    .filter((message) => message.ruleId === '@typescript-eslint/no-restricted-imports')
    .map((message) => message.message);
}

describe('layer rules in lint', () => {
  const cases: [string, string, string][] = [
    ['src/modules/images/x.ts', "import { SERVICES } from '../../services/service-table.js';", 'src/services'],
    ['src/http/x.ts', "import { storageServiceRoutes } from '../services/storage/storage.routes.js';", 'src/services'],
    ['src/modules/images/x.ts', "import type { FastifyRequest } from 'fastify';", 'no HTTP'],
    ['src/modules/images/x.ts', "import { etagMatches } from '../../http/media-headers.js';", 'no HTTP'],
    ['src/modules/images/x.ts', "import sharp from 'sharp';", 'sharp'],
    ['src/storage/fs/x.ts', "import { S3Client } from '@aws-sdk/client-s3';", 'AWS SDK'],
    ['src/storage/s3/x.ts', "import { BlobServiceClient } from '@azure/storage-blob';", 'Azure SDK'],
    ['src/modules/images/x.service.ts', "import { sql } from 'kysely';", 'build queries'],
    ['src/api/x.ts', "import { AppError } from '../lib/app-error.js';", 'contract'],
  ];
  for (const [file, code, says] of cases) {
    it(`${file}: ${code} › fails lint, naming the rule`, async () => {
      const messages = await violations(file, `${code}\nexport const used = [${importedName(code)}];\n`);
      expect(messages.join('\n')).toContain(says);
    });
  }

  const allowed: [string, string][] = [
    ['src/image/x.ts', "import sharp from 'sharp';"],
    ['src/storage/s3/x.ts', "import { S3Client } from '@aws-sdk/client-s3';"],
    ['src/modules/images/image.repository.ts', "import { sql } from 'kysely';"],
    ['src/modules/images/x.service.ts', "import type { Kysely } from 'kysely';"],
    ['src/services/gateway/x.ts', "import { SERVICES } from '../../config/service-table.js';"],
    ['src/api/x.ts', "import { Type } from 'typebox';"],
  ];
  for (const [file, code] of allowed) {
    it(`${file}: ${code} › passes`, async () => {
      expect(await violations(file, `${code}\nexport const used = [${importedName(code)}];\n`)).toEqual([]);
    });
  }
});

function importedName(code: string): string {
  const match = /import (?:type )?(?:\{ (?:type )?(\w+) \}|(\w+))/.exec(code);
  const name = match?.[1] ?? match?.[2] ?? '';
  return code.startsWith('import type') ? `null as unknown as ${name}` : name;
}
