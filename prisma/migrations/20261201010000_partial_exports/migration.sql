-- An export made before its import was PROCESSED holds only the rows imported so far: it says
-- so in its name, its listing and the API's answer.
ALTER TABLE "exports" ADD COLUMN "partial" BOOLEAN NOT NULL DEFAULT false;
