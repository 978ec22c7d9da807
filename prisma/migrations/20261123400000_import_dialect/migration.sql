-- How an import's file is written (encoding, delimiter, quote, escape, line ending, header),
-- as the sniffer detected it on the file's first bytes; null until then, and for batch sessions.
ALTER TABLE "imports" ADD COLUMN "dialect" JSONB;
