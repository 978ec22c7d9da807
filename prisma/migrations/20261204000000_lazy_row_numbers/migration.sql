-- File order without a per-row sequence (issue 14, lib/imports/import-table.ts): a file
-- import's rows get no number as they load; a row's place in its batch is where it is stored,
-- its ctid, until an UPDATE moves it. So the file's order is
-- (_sluice_batch, COALESCE(_sluice_row, sluice_place(ctid))), and an UPDATE gives each row it
-- moves the number of the place it leaves.

-- A row's place in its table's storage as one number (page, then item within the page).
CREATE FUNCTION "sluice_place"(tid) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN ($1::text::point)[0]::bigint * 65536 + ($1::text::point)[1]::bigint;

CREATE FUNCTION "sluice_keep_row_place"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW._sluice_row IS NULL THEN
    NEW._sluice_row := sluice_place(OLD.ctid);
  END IF;
  RETURN NEW;
END
$$;

-- Partitioned imports made before this change have row numbers; their batches still to come
-- load without, so their tables take a NULL there, and their updated rows keep their place.
DO $$
DECLARE imp record;
BEGIN
  FOR imp IN SELECT table_name FROM "imports"
             WHERE "partitioned" AND to_regclass(format('imported.%I', "table_name")) IS NOT NULL LOOP
    EXECUTE format('ALTER TABLE imported.%I ALTER COLUMN _sluice_row DROP NOT NULL', imp.table_name);
    EXECUTE format('CREATE TRIGGER sluice_keep_row_place BEFORE UPDATE ON imported.%I FOR EACH ROW EXECUTE FUNCTION sluice_keep_row_place()', imp.table_name);
  END LOOP;
END
$$;
