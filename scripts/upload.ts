// npm run upload -- FILE [--url URL]
//   Uploads a CSV over tus with a progress bar, then follows its import to the end. Run the
//   same command again after an interruption and it resumes where the server stopped.
// npm run upload -- --batch --rows N [--url URL] [--batch-size 5000] [--format ndjson|json|csv] [--in-flight 3] [--name NAME] [--seed S]
//   Sends N generated records through the batch API, several batches at a time, then finishes
//   the session and says how many records a second it sent.
// Either way with the API key in SLUICE_API_KEY, or the one `npm run login` stored.
// Exit code: 0 when the import is PROCESSED, 1 when anything else happened, 2 for bad flags,
// 130 after Ctrl-C.
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { formatCount } from '../lib/format'
import { ApiError, checkServer, createApi, InterruptedError, type Api } from './upload/api'
import { apiKeyFor } from './upload/credentials'
import { BATCH_FORMATS, sendGeneratedRecords, type BatchFormat, type BatchOptions } from './upload/batches'
import { followImport } from './upload/follow-import'
import { uploadFile } from './upload/tus-upload'

const USAGE = `usage: npm run upload -- FILE [--url URL]
       npm run upload -- --batch --rows N [--url URL] [--batch-size 5000] [--format ndjson|json|csv] [--in-flight 3] [--name NAME] [--seed S]`

const DEFAULT_URL = 'http://localhost:3000'
const DEFAULT_BATCH_SIZE = 5000
// Batches of one session are applied one at a time; a few in flight keep the next one ready
// (read, and for JSON converted) while the one before it is copied.
const DEFAULT_IN_FLIGHT = 3

class UsageError extends Error {}

type Command = { url: string } & ({ mode: 'file'; file: string } | ({ mode: 'batch' } & BatchOptions))

function readCommand(): Command {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string', default: DEFAULT_URL },
      batch: { type: 'boolean', default: false },
      rows: { type: 'string' },
      'batch-size': { type: 'string' },
      format: { type: 'string' },
      'in-flight': { type: 'string' },
      name: { type: 'string' },
      seed: { type: 'string' },
    },
  })
  let url: string
  try {
    url = new URL(values.url).href.replace(/\/+$/, '')
  } catch {
    throw new UsageError(`--url must be an address such as ${DEFAULT_URL}, not "${values.url}"`)
  }
  if (!values.batch) {
    const extra = (['rows', 'batch-size', 'format', 'in-flight', 'name', 'seed'] as const).filter((flag) => values[flag] !== undefined)
    if (extra.length) throw new UsageError(`--${extra[0]} goes with --batch`)
    if (positionals.length !== 1) throw new UsageError(positionals.length ? 'give one file at a time' : 'give the CSV file to upload')
    return { url, mode: 'file', file: positionals[0]! }
  }
  if (positionals.length) throw new UsageError(`--batch sends generated records, not a file ("${positionals[0]}")`)
  if (values.rows === undefined) throw new UsageError('--batch needs --rows N')
  const rows = wholeNumber('--rows', values.rows)
  const batchSize = values['batch-size'] === undefined ? DEFAULT_BATCH_SIZE : wholeNumber('--batch-size', values['batch-size'])
  if (batchSize < 1) throw new UsageError('--batch-size must be at least 1')
  const seed = values.seed === undefined ? undefined : wholeNumber('--seed', values.seed)
  const format = (values.format ?? 'ndjson') as BatchFormat
  if (!BATCH_FORMATS.includes(format)) throw new UsageError(`--format is one of ${BATCH_FORMATS.join(', ')}, not "${values.format}"`)
  const inFlight = values['in-flight'] === undefined ? DEFAULT_IN_FLIGHT : wholeNumber('--in-flight', values['in-flight'])
  if (inFlight < 1) throw new UsageError('--in-flight must be at least 1')
  return { url, mode: 'batch', rows, batchSize, seed, format, inFlight, name: values.name ?? `generated-${rows}` }
}

function wholeNumber(flag: string, text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new UsageError(`${flag} must be a whole number, not "${text}"`)
  return n
}

/** The file to upload must be there before anything is asked of the server. */
function checkFile(file: string) {
  const stat = fs.statSync(file, { throwIfNoEntry: false })
  if (!stat) throw new Error(`No such file: ${path.resolve(file)}`)
  if (!stat.isFile()) throw new Error(`Not a file: ${path.resolve(file)}`)
}

async function uploadAndImport(api: Api, file: string, signal: AbortSignal) {
  await checkServer(api)
  const uploadId = await uploadFile(api.base, file, signal, api.key)
  const imp = await followImport(api, uploadId, signal).catch((error: unknown) => {
    if (!(error instanceof InterruptedError)) throw error
    throw new InterruptedError(`Interrupted: the file has arrived, and its import goes on on the server (${api.base}/api/imports?upload=${uploadId})`)
  })
  console.log(`Imported ${formatCount(imp.rowsImported)} rows (${formatCount(imp.rowsRejected)} rejected) into ${imp.tableName}`)
  if (imp.rowsRejected > 0) console.log(`The rejected lines, with the reason for each: ${api.base}/api/imports/${imp.id}/rejects.csv`)
  console.log(`See ${api.base}/imports/${imp.id}`)
}

async function sendBatches(api: Api, options: BatchOptions, signal: AbortSignal) {
  await checkServer(api)
  const { session, imp, seconds } = await sendGeneratedRecords(api, options, signal)
  console.log(`Sent ${formatCount(session.recordsReceived)} records in ${seconds.toFixed(1)} s: ${formatCount(Math.round(session.recordsReceived / Math.max(seconds, 0.001)))} records/s`)
  console.log(
    `Finished session ${session.id}: ${formatCount(session.recordsReceived)} records in ${formatCount(session.batchesReceived)} batches, ` +
      `import ${imp.id} ${imp.status} with ${formatCount(imp.rowsImported)} rows in ${imp.tableName}`,
  )
  console.log(`See ${api.base}/imports/${imp.id}`)
}

async function main() {
  let command: Command
  try {
    command = readCommand()
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`)
    return 2
  }
  // Ctrl-C or SIGTERM ends the requests under way (the server keeps what it received); a
  // second Ctrl-C ends the process at once.
  const interrupt = new AbortController()
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupt.abort()
      process.once(signal, () => process.exit(130))
    })
  }
  try {
    if (command.mode === 'file') checkFile(command.file)
    const key = apiKeyFor(command.url)
    if (!key) throw new Error(`No API key for ${command.url}: run \`npm run login\` once (it stores one), or set SLUICE_API_KEY to a key from its settings page`)
    const api = createApi(command.url, interrupt.signal, key)
    if (command.mode === 'file') await uploadAndImport(api, command.file, interrupt.signal)
    else await sendBatches(api, command, interrupt.signal)
    return 0
  } catch (error) {
    if (error instanceof InterruptedError) {
      console.error(error.message)
      return 130
    }
    const message = error instanceof ApiError ? `${error.message} (${error.status} ${error.code})` : (error as Error).message
    console.error(message)
    return 1
  }
}

process.exit(await main())
