import type { ImportStatus } from '../db/generated/client'

export type { ImportStatus }

/** The import state machine (design.md): where each status may go next. */
export const NEXT = {
  QUEUED: ['PROCESSING', 'STOPPED'],
  // A batch session's import: finishing the session with the right total makes it PROCESSED.
  RECEIVING: ['PROCESSED', 'STOPPED'],
  // Not a person's command, so not listed: PROCESSING → QUEUED when its worker dies or shuts down.
  PROCESSING: ['PAUSED', 'PROCESSED', 'FAILED', 'STOPPED', 'KILLED'],
  PAUSED: ['QUEUED', 'STOPPED', 'KILLED'], // resume re-queues from the checkpoint
  KILLED: ['QUEUED', 'STOPPED'],
  FAILED: ['QUEUED', 'STOPPED'], // stop removes what a failed import left: its partial table and file
  PROCESSED: [],
  STOPPED: [],
} as const satisfies Record<ImportStatus, readonly ImportStatus[]>

/** Every status that may move to `to`: the guard of a transition's UPDATE. */
export function sourcesOf(to: ImportStatus): ImportStatus[] {
  return (Object.keys(NEXT) as ImportStatus[]).filter((from) => (NEXT[from] as readonly ImportStatus[]).includes(to))
}

/** The status each of a person's commands moves an import to. */
export const COMMAND_TARGET = { pause: 'PAUSED', resume: 'QUEUED', stop: 'STOPPED', kill: 'KILLED' } as const satisfies Record<
  string,
  ImportStatus
>
export type ImportCommand = keyof typeof COMMAND_TARGET
export const IMPORT_COMMANDS = Object.keys(COMMAND_TARGET) as ImportCommand[]

/** Whether the state machine lets `command` act on an import in `status` (which buttons to show). */
export const allows = (status: ImportStatus, command: ImportCommand) =>
  (NEXT[status] as readonly ImportStatus[]).includes(COMMAND_TARGET[command])
