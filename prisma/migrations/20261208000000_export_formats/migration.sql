-- An export's format: standard CSV (as every export was before), as the file was written, or for Excel.
ALTER TABLE "exports" ADD COLUMN "format" text NOT NULL DEFAULT 'standard';
