import fs from 'node:fs'
import fsp from 'node:fs/promises'
import { Readable } from 'node:stream'
import { create as contentDisposition } from 'content-disposition'
import parseRange from 'range-parser'
import { DECLARED_LENGTH_HEADER } from '../http/content-length'
import { SluiceError } from '../http/errors'
import { exportFilePath } from './export-jobs'
import { isDownloadable } from './exports'
import type { Export } from '../db/generated/client'

/**
 * The finished file of an export, as a download that can resume: `Range` (one byte range;
 * several are answered with the whole file, as `send` does), `If-Range`, and `ETag` /
 * `If-None-Match`. A finished export's file never changes, so its id and size make a strong ETag.
 */
export async function downloadExport(exp: Export, req: Request): Promise<Response> {
  if (exp.status === 'EXPIRED' || (exp.status === 'PROCESSED' && !isDownloadable(exp))) {
    throw new SluiceError('GONE', `This export expired at ${exp.expiresAt?.toISOString()} and its file was deleted; export the rows again`)
  }
  if (exp.status !== 'PROCESSED') {
    throw new SluiceError('INVALID_TRANSITION', `This export is ${exp.status.toLowerCase()}: only a finished export can be downloaded`)
  }
  const file = exportFilePath(exp.id)
  const stat = await fsp.stat(file).catch(() => null)
  if (!stat) throw new SluiceError('GONE', 'The file of this export is no longer on the server; export the rows again')

  const etag = `"${exp.id}-${stat.size}"`
  const headers = new Headers({
    // As written, the file is in its import's encoding, which the export does not keep: no charset is claimed.
    'Content-Type': exp.format === 'as-written' ? 'text/csv' : 'text/csv; charset=utf-8',
    'Content-Disposition': contentDisposition(exp.fileName),
    'Accept-Ranges': 'bytes',
    ETag: etag,
    'Last-Modified': stat.mtime.toUTCString(),
    // no-transform: Next.js would otherwise gzip the body for a browser, and byte ranges must be of the file itself.
    'Cache-Control': 'private, no-cache, no-transform',
  })
  if (req.headers.get('if-none-match')?.split(/\s*,\s*/).includes(etag)) return new Response(null, { status: 304, headers })

  const rangeHeader = suffixWithin(req.headers.get('range'), stat.size)
  const ifRange = req.headers.get('if-range')
  // If-Range: the range holds only for the file the client already has part of.
  const ranges = rangeHeader && (ifRange === null || ifRange === etag) ? parseRange(stat.size, rangeHeader, { combine: true }) : -2
  if (ranges === -1) {
    return Response.json(
      { error: { code: 'RANGE_NOT_SATISFIABLE', message: `The range ${rangeHeader} is outside the file of ${stat.size} bytes` } },
      { status: 416, headers: { 'Content-Range': `bytes */${stat.size}` } },
    )
  }
  const single = ranges !== -2 && ranges.type === 'bytes' && ranges.length === 1 ? ranges[0]! : null
  const start = single?.start ?? 0
  const end = single?.end ?? stat.size - 1
  headers.set(DECLARED_LENGTH_HEADER, String(stat.size === 0 ? 0 : end - start + 1))
  if (single) headers.set('Content-Range', `bytes ${start}-${end}/${stat.size}`)
  const body =
    req.method === 'HEAD' || stat.size === 0
      ? null
      : (Readable.toWeb(fs.createReadStream(file, { start, end })) as ReadableStream<Uint8Array>)
  return new Response(body, { status: single ? 206 : 200, headers })
}

/**
 * RFC 9110 §14.1.2: a suffix range longer than the file selects the whole file. range-parser
 * answers it as unsatisfiable (-1), so such a suffix is cut to the file's size first.
 */
function suffixWithin(range: string | null, size: number): string | null {
  const suffix = range?.match(/^\s*bytes\s*=\s*-(\d+)\s*$/i)
  return suffix && size > 0 && Number(suffix[1]) > size ? `bytes=-${size}` : range
}
