// The PostgreSQL backend's entry: readers of the central record at a `postgres://` URL. The
// central record is written by the shipper (store/shipper.ts) from each sidecar's local
// SQLite file, never by a sidecar's request path, so this backend starts no writer.
import { StoreError, type RecordWriter, type StoreBackend } from '../record-store.js';
import { SCHEMA_VERSION, schemaVersion, tooNew } from './migrations.js';
import { printableUrl } from './location.js';
import { connect, createPool } from './pool.js';
import { PostgresReader } from './reader.js';

export const postgresStore: StoreBackend = {
  async openReader(url) {
    const pool = createPool(url);
    try {
      const client = await connect(pool, url);
      try {
        const version = await schemaVersion(client);
        if (version === 0) throw new StoreError(`PostgreSQL database ${printableUrl(url)} holds no tapwire record (ship records to it with store.central.url first)`);
        if (version > SCHEMA_VERSION) throw new StoreError(tooNew(printableUrl(url), version));
        if (version < SCHEMA_VERSION) throw new StoreError(`PostgreSQL database ${printableUrl(url)} has schema version ${version}; start a sidecar shipping to it to upgrade it to ${SCHEMA_VERSION}`);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end();
      throw err;
    }
    return new PostgresReader(pool);
  },
  startWriter(url): Promise<RecordWriter> {
    return Promise.reject(
      new StoreError(`store.path ${printableUrl(url)}: the local record is a SQLite file; a PostgreSQL database receives it through store.central.url`),
    );
  },
};
