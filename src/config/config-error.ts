/** A configuration that cannot run; the message names the variable (and never a secret's value). */
export class ConfigError extends Error {}
