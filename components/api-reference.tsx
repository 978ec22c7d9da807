'use client'

import type { AnyApiReferenceConfiguration } from '@scalar/api-reference-react'
import dynamic from 'next/dynamic'
import '@scalar/api-reference-react/style.css'

// Scalar renders in the browser only (it is a Vue app behind a React wrapper).
const ApiReferenceReact = dynamic(() => import('@scalar/api-reference-react').then((m) => m.ApiReferenceReact), {
  ssr: false,
  loading: () => <p className="bg-white px-4 py-8 text-slate-600 dark:bg-slate-950 dark:text-slate-400">Loading the API reference…</p>,
})

// Everything comes from this app: Scalar's defaults would load fonts from fonts.scalar.com,
// send telemetry to api.scalar.com, offer its AI agent (on by itself on localhost) and a link
// to client.scalar.com; its request proxy stays unset, so "Test Request" calls this app directly.
const CONFIGURATION = {
  url: '/api/openapi.json',
  withDefaultFonts: false,
  telemetry: false,
  agent: { disabled: true },
  hideClientButton: true,
  showDeveloperTools: 'never',
  documentDownloadType: 'json',
  defaultOpenAllTags: true,
} satisfies AnyApiReferenceConfiguration

/** The OpenAPI document of /api/openapi.json, rendered by Scalar. */
export function ApiReference() {
  return (
    <div data-testid="api-reference">
      <ApiReferenceReact configuration={CONFIGURATION} />
    </div>
  )
}
