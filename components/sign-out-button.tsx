'use client'

import { useState } from 'react'
import { forgetUnfinishedUploads } from './forget-uploads'
import { neutralButton } from './styles'

export function SignOutButton() {
  const [busy, setBusy] = useState(false)
  async function signOut() {
    setBusy(true)
    await fetch('/api/auth/sign-out', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }).catch(() => null)
    forgetUnfinishedUploads()
    window.location.assign('/sign-in')
  }
  return (
    <button type="button" className={neutralButton} onClick={signOut} disabled={busy}>
      Sign out
    </button>
  )
}
