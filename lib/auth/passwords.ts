/** Shorter passwords are refused everywhere an account is made (setup, invite, admin, sign-up). */
export const MIN_PASSWORD_LENGTH = 12
