import { handleUploadRequest } from '@/lib/uploads/tus-server'

// The tus endpoint (@tus/server). Each verb is wrapped rather than exported bare:
// `handleWeb` loses `this` when detached. OPTIONS is exported too, or Next.js would answer
// preflights itself without tus's CORS headers.
const handle = (req: Request) => handleUploadRequest(req)

export const OPTIONS = handle
export const POST = handle
export const HEAD = handle
export const PATCH = handle
export const DELETE = handle

export const dynamic = 'force-dynamic'
