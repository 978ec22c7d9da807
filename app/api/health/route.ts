import { handle, SluiceError } from '@/lib/http/errors'
import { databaseAnswers } from '@/lib/db/pool'

export const dynamic = 'force-dynamic'

export const GET = () =>
  handle(async () => {
    if (!(await databaseAnswers())) throw new SluiceError('UNAVAILABLE', 'The database does not answer')
    return Response.json({ ok: true })
  })
