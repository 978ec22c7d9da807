import { Readable } from 'node:stream'
import { to as copyTo } from 'pg-copy-streams'
import { pool } from './pool'

/**
 * The output of `COPY (…) TO STDOUT` as a web stream, on a pooled connection given back at its
 * end: a download of any size costs no memory. A reader that goes away mid-way leaves the
 * connection mid-COPY, so it is dropped rather than given back.
 */
export async function copyOut(copySql: string): Promise<ReadableStream<Uint8Array>> {
  const client = await pool().connect()
  let released = false
  const release = (error?: Error) => {
    if (released) return
    released = true
    client.release(error)
  }
  try {
    const copy = client.query(copyTo(copySql))
    copy.on('end', () => release())
    copy.on('error', (e: Error) => release(e))
    copy.on('close', () => release(new Error('download closed early')))
    return Readable.toWeb(copy) as ReadableStream<Uint8Array>
  } catch (error) {
    release(error as Error)
    throw error
  }
}
