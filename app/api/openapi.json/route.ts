import { handleSignedIn } from '@/lib/auth/principal'
import { openApiDocument } from '@/lib/http/openapi'

export const dynamic = 'force-dynamic'

/** GET /api/openapi.json: the OpenAPI 3.1 document of every route under /api. */
export const GET = (req: Request) => handleSignedIn(req, async () => Response.json(openApiDocument()))
