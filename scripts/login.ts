// npm run login -- [--url URL] [--email EMAIL]
//   Signs in once (email, then password, asked for, never on the command line), creates an API
//   key named after this machine, and stores it for `npm run upload` (see upload/credentials.ts).
//   Without a terminal, reads the email and the password as two lines of standard input.
import os from 'node:os'
import readline from 'node:readline'
import { parseArgs } from 'node:util'
import { storeApiKey } from './upload/credentials'

const DEFAULT_URL = 'http://localhost:3000'

async function ask(question: string, { hidden = false } = {}): Promise<string> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY })
  if (hidden && process.stdin.isTTY) {
    // Echo nothing of what is typed after the question.
    const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput.bind(rl)
    ;(rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s) => write(s.startsWith(question) ? question : '')
  }
  const answer = await new Promise<string>((resolve) => rl.question(question, resolve))
  rl.close()
  if (hidden && process.stdin.isTTY) process.stdout.write('\n')
  return answer
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { url: { type: 'string', default: DEFAULT_URL }, email: { type: 'string' } } })
  const url = values.url.replace(/\/+$/, '')
  if (!URL.canParse(url)) {
    console.error(`--url must be an address such as ${DEFAULT_URL}, not "${values.url}"`)
    return 2
  }
  const lines = process.stdin.isTTY ? null : readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]()
  const next = async (question: string, hidden = false) => (lines ? String((await lines.next()).value ?? '') : ask(question, { hidden }))
  const email = values.email ?? (await next('Email: ')).trim()
  const password = await next('Password: ', true)

  const post = (route: string, body: unknown, cookie?: string) =>
    fetch(`${url}${route}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: new URL(url).origin, ...(cookie && { Cookie: cookie }) }, body: JSON.stringify(body) })
  let signedIn: Response
  try {
    signedIn = await post('/api/auth/sign-in/email', { email, password })
  } catch {
    console.error(`Cannot reach Sluice at ${url}: is it running? Start it with \`npm start\`, or give its address with --url`)
    return 1
  }
  if (!signedIn.ok) {
    const body = (await signedIn.json().catch(() => null)) as { message?: string } | null
    console.error(signedIn.status === 401 ? 'Wrong email or password.' : `Sign-in failed (${signedIn.status}): ${body?.message ?? ''}`)
    return 1
  }
  const cookie = signedIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ')
  const created = await post('/api/keys', { name: `npm run upload on ${os.hostname()}`.slice(0, 100) }, cookie)
  if (created.status !== 201) {
    console.error(`Signed in, but the server did not make a key (${created.status}): ${await created.text()}`)
    return 1
  }
  const { key } = (await created.json()) as { key: string }
  const file = storeApiKey(url, key, email)
  // The session was only needed to make the key.
  await post('/api/auth/sign-out', {}, cookie).catch(() => null)
  console.log(`Signed in to ${url} as ${email}. The key for \`npm run upload\` is in ${file} (only you can read it); revoke it on the settings page.`)
  return 0
}

process.exit(await main())
