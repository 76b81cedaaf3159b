import { Type, type Static } from 'typebox';

export const StorageUsageSchema = Type.Object({
  usedBytes: Type.Integer(),
  quotaBytes: Type.Integer({ description: '0 = unlimited' }),
  trashBytes: Type.Integer({ description: 'Of usedBytes, what photos in the trash take until they are purged.' }),
});
export type StorageUsage = Static<typeof StorageUsageSchema>;

export const TransferUsageSchema = Type.Object({
  day: Type.String({ description: 'UTC day, YYYY-MM-DD' }),
  inBytes: Type.Integer(),
  outBytes: Type.Integer(),
  usedBytes: Type.Integer(),
  quotaBytes: Type.Integer({ description: '0 = unlimited' }),
  resetsAt: Type.String({ format: 'date-time' }),
});
export type TransferUsage = Static<typeof TransferUsageSchema>;

export const UsageSchema = Type.Object({ storage: StorageUsageSchema, transfer: TransferUsageSchema });
export type Usage = Static<typeof UsageSchema>;
