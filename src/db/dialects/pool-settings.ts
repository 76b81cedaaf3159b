/** What openDatabase passes to the MySQL and PostgreSQL dialects, defaults filled in. */
export interface PoolSettings {
  /** Connections per process. */
  poolSize: number;
  /** How long opening a connection, or waiting for a free one, may take before the query fails. */
  connectTimeoutMs: number;
  /** Told about errors of idle pooled connections (a restarted server); the pool replaces them. */
  onIdleError: (error: Error) => void;
}
