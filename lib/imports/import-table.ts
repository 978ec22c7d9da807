import { importTableSql, quoteIdent, ROW_NUMBER_COLUMN, type ImportColumn } from './column-names'

/**
 * A file import's table, laid out so that several connections can load it at once and its
 * rows still read in file order without an index (measured with scripts/bench/table-layouts.ts,
 * 4M rows, 2 cores: two COPYs this way load 1.79x as fast as one COPY into a plain table, and
 * one COPY 1.11x as fast):
 *
 * - The table a person queries, imported."<name>", is partitioned by `_sluice_batch`, the
 *   byte offset in the file where a batch starts. Each batch is a partition of its own (schema
 *   imported_batches), created in the batch's transaction, filled by COPY FREEZE and attached
 *   at its end. A table created in the same transaction is written without the free space map
 *   (PostgreSQL's TABLE_INSERT_SKIP_FSM), by one connection: its rows are stored in the order
 *   COPY read them, so a plain scan of the parent (partitions in bound order, each read as
 *   stored) gives the file's order. FREEZE writes the rows visible to all, so the first read
 *   after the import sets no hint bits and no vacuum needs to freeze them later.
 * - No row gets a number as it loads: a per-row sequence (nextval as a column default) cost
 *   the import a seventh of its speed (bench:import 1.16 times one COPY with it, 1.24
 *   without). Until a row changes, its place in its batch is where it is stored, its ctid.
 *   An UPDATE moves the rows it changes, so a row trigger gives each moved row the number of
 *   the place it leaves (sluice_keep_row_place, migration lazy_row_numbers): the file's order
 *   is (_sluice_batch, COALESCE(_sluice_row, sluice.sluice_place(ctid))) in any case. Numbers only
 *   for the rows someone changes, paid by that UPDATE. A DELETE moves nothing; a row someone
 *   INSERTs has no place in the file and sorts where it is stored. (VACUUM FULL or CLUSTER of
 *   a table with changed rows moves the others, and would lose the order between the two.)
 *
 * Partitions are attached, not created as partitions: CREATE TABLE … PARTITION OF locks the
 * parent for the whole transaction, which would load one batch at a time; ATTACH takes a lock
 * that only other ATTACHes wait for, and their transactions end right after it.
 */
export const BATCH_COLUMN = '_sluice_batch'
export const BATCHES_SCHEMA = 'imported_batches'

/** A row's place in its batch: its number once an UPDATE gave it one, else where it is stored. */
export const placeInBatchSql = `COALESCE(${quoteIdent(ROW_NUMBER_COLUMN)}, sluice.sluice_place(ctid))`

/** The order of the file's records, in any import's table (batch sessions' tables have no batches). */
export const fileOrderSql = (imp: { partitioned: boolean }) => (imp.partitioned ? `${quoteIdent(BATCH_COLUMN)}, ${placeInBatchSql}` : quoteIdent(ROW_NUMBER_COLUMN))

const compactId = (importId: string) => importId.replace(/-/g, '')
const batchTableSql = (importId: string, startByte: number) => `${quoteIdent(BATCHES_SCHEMA)}.${quoteIdent(`${compactId(importId)}_${startByte}`)}`
const valueColumnsSql = (columns: readonly ImportColumn[]) => columns.map((c) => `${quoteIdent(c.name)} ${c.type ?? 'text'}`).join(', ')

/**
 * The statements that create an import's parent table and its triggers: one keeps the place of
 * a row an UPDATE moves, the other marks the rows as no longer stored in file order once
 * someone changes them.
 */
export function createPartitionedTableSql(imp: { id: string; tableName: string }, columns: readonly ImportColumn[]): string[] {
  const table = importTableSql(imp.tableName)
  return [
    `CREATE TABLE ${table} (${quoteIdent(BATCH_COLUMN)} bigint NOT NULL, ${quoteIdent(ROW_NUMBER_COLUMN)} bigint, ${valueColumnsSql(columns)}) PARTITION BY RANGE (${quoteIdent(BATCH_COLUMN)})`,
    `CREATE TRIGGER sluice_keep_row_place BEFORE UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION sluice.sluice_keep_row_place()`,
    `CREATE TRIGGER sluice_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table}
     FOR EACH STATEMENT EXECUTE FUNCTION sluice.sluice_import_table_changed()`,
  ]
}

/** CREATE TABLE for one batch, before its COPY: its batch number is a default, its rows have no number yet. */
export function createBatchTableSql(imp: { id: string; tableName: string }, startByte: number, columns: readonly ImportColumn[]): string {
  const batch = quoteIdent(BATCH_COLUMN)
  return `CREATE TABLE ${batchTableSql(imp.id, startByte)} (
    ${batch} bigint NOT NULL DEFAULT ${startByte} CHECK (${batch} = ${startByte}),
    ${quoteIdent(ROW_NUMBER_COLUMN)} bigint,
    ${valueColumnsSql(columns)})`
}

/** The table COPY writes one batch into. */
export const batchTable = batchTableSql

/** Makes the batch's table part of the import's table; the CHECK spares PostgreSQL a scan to prove it fits. */
export const attachBatchTableSql = (imp: { id: string; tableName: string }, startByte: number) =>
  `ALTER TABLE ${importTableSql(imp.tableName)} ATTACH PARTITION ${batchTableSql(imp.id, startByte)} FOR VALUES FROM (${startByte}) TO (${startByte + 1})`

