/**
 * The address a request came from, as scripts/start.ts wrote it from the socket (replacing any
 * header of that name a client sent). X-Forwarded-For is not used: anyone can send one.
 */
export const CLIENT_ADDRESS_HEADER = 'x-sluice-client-address'

export const clientAddress = (headers: Headers | undefined): string => headers?.get(CLIENT_ADDRESS_HEADER) ?? 'unknown'
