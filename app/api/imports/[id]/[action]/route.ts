import { handleSignedIn, ownedBy } from '@/lib/auth/principal'
import type { Import } from '@/lib/db/generated/client'
import { SluiceError } from '@/lib/http/errors'
import { getImport, killImport, pauseImport, resumeImport, stopImport, toImportDto } from '@/lib/imports/imports'
import { IMPORT_COMMANDS, type ImportCommand } from '@/lib/imports/import-status'
import { ImportCommandParams } from '@/lib/imports/schemas'

const COMMANDS: Record<ImportCommand, (id: string) => Promise<Import>> = { pause: pauseImport, resume: resumeImport, stop: stopImport, kill: killImport }

/** POST /api/imports/:id/{pause,resume,stop,kill}: answers the import as it is after the command. */
export const POST = (req: Request, ctx: RouteContext<'/api/imports/[id]/[action]'>) =>
  handleSignedIn(req, async (who) => {
    const { id, action } = ImportCommandParams.parse(await ctx.params)
    const command = (IMPORT_COMMANDS as string[]).includes(action) ? COMMANDS[action as ImportCommand] : null
    if (!command) throw new SluiceError('NOT_FOUND', `No command "${action}": use ${IMPORT_COMMANDS.join(', ')}`)
    await getImport(id, ownedBy(who))
    return Response.json(toImportDto(await command(id)))
  })
