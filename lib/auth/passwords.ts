/** Shorter passwords are refused everywhere an account is made (setup, invite, admin, sign-up). */
export const MIN_PASSWORD_LENGTH = 12
/** Longer passwords are refused too: hashing a megabyte-long one would be a way to load the server. */
export const MAX_PASSWORD_LENGTH = 256
