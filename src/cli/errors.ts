/** An error the user can act on: printed as one clear line, without a stack. */
export class CliError extends Error {}
