-- A FAILED import whose file itself is the problem (not CSV, a record that never ends): a
-- resume would fail the same way, so it is not offered.
ALTER TABLE "imports" ADD COLUMN "failure_final" BOOLEAN NOT NULL DEFAULT false;
