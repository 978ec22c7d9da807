-- Sluice's bookkeeping moves out of public into a schema of its own (lib/db/sluice-schema.ts),
-- so that a person's own tables never sit beside it and can never be confused with it. The
-- migrations run with search_path = sluice, so on a new database the earlier ones already
-- made everything there; this moves what an older Sluice made in public. The rows of imports
-- stay in the schemas imported and imported_batches.
DO $$
DECLARE
  name text;
BEGIN
  FOREACH name IN ARRAY ARRAY['uploads', 'imports', 'import_batches', 'import_rejects', 'exports',
    'batch_sessions', 'session_batches', 'users', 'sessions', 'accounts', 'verifications',
    'api_keys', 'instance_settings', 'invites', 'sign_in_failures'] LOOP
    IF to_regclass(format('public.%I', name)) IS NOT NULL AND to_regclass(format('sluice.%I', name)) IS NULL THEN
      EXECUTE format('ALTER TABLE public.%I SET SCHEMA sluice', name);
    END IF;
  END LOOP;
  FOREACH name IN ARRAY ARRAY['UploadStatus', 'ImportStatus', 'ExportStatus'] LOOP
    IF to_regtype(format('public.%I', name)) IS NOT NULL AND to_regtype(format('sluice.%I', name)) IS NULL THEN
      EXECUTE format('ALTER TYPE public.%I SET SCHEMA sluice', name);
    END IF;
  END LOOP;
  FOREACH name IN ARRAY ARRAY['sluice_import_table_changed()', 'sluice_place(tid)', 'sluice_keep_row_place()'] LOOP
    IF to_regprocedure('public.' || name) IS NOT NULL AND to_regprocedure('sluice.' || name) IS NULL THEN
      EXECUTE 'ALTER FUNCTION public.' || name || ' SET SCHEMA sluice';
    END IF;
  END LOOP;
END
$$;

-- The triggers on import tables fire in anyone's session, whatever its search_path: the
-- functions name what they use with its schema.
CREATE OR REPLACE FUNCTION "sluice"."sluice_import_table_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "sluice"."imports" SET "stored_in_file_order" = false
  WHERE "table_name" = TG_TABLE_NAME AND "stored_in_file_order";
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION "sluice"."sluice_keep_row_place"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW._sluice_row IS NULL THEN
    NEW._sluice_row := "sluice"."sluice_place"(OLD.ctid);
  END IF;
  RETURN NEW;
END
$$;
