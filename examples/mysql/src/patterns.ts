/**
 * Regular expressions for the MySQL fields that Kubernetes itself would only reject later, on the objects made from
 * them (a PersistentVolumeClaim's size, a CronJob's schedule). Written in the subset that JavaScript and Go's RE2
 * share, because the same pattern is checked by the apiserver (the CRD's OpenAPI schema) and by `MySQL.validate()`.
 */

/**
 * A positive Kubernetes quantity for storage: a decimal number other than zero with an optional binary (`Ki`…`Ei`)
 * or decimal (`k`, `M`…`E`) suffix, e.g. `10Gi`, `500M`, `1.5Ti`. Milli-units, exponents and signs are refused:
 * they are valid quantities but never a sensible volume size.
 */
export const storageQuantityPattern = "^([1-9][0-9]*(\\.[0-9]+)?|0?\\.[0-9]*[1-9][0-9]*)([KMGTPE]i|[kMGTPE])?$";

/** One field of a cron expression: `*`, a value or a range, each with an optional step, separated by commas. */
function cronField(value: string): string {
  const item = `(\\*|(${value})(-(${value}))?)(/[1-9][0-9]*)?`;
  return `${item}(,${item})*`;
}

const names = (list: string) => [list, list.toLowerCase()].join("|");
const minute = "[0-5]?[0-9]";
const hour = "[01]?[0-9]|2[0-3]";
const dayOfMonth = "0?[1-9]|[12][0-9]|3[01]";
const month = `0?[1-9]|1[0-2]|${names("JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC")}`;
const dayOfWeek = `[0-6]|${names("SUN|MON|TUE|WED|THU|FRI|SAT")}`;
const macros = "@(yearly|annually|monthly|weekly|daily|midnight|hourly)";

/**
 * A CronJob schedule: five fields (minute, hour, day of month, month, day of week) with values in range, `?` for
 * either day field, or one of the macros `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly` (and `@annually`,
 * `@midnight`). This is what the CronJob controller's parser accepts, minus `TZ=` prefixes (refused by CronJob
 * validation too) and `@every` (not supported by CronJobs).
 */
export const cronSchedulePattern = `^(${macros}|${[minute, hour, `${dayOfMonth}|\\?`, month, `${dayOfWeek}|\\?`]
  .map((v) => `(${cronField(v)})`)
  .join(" ")})$`;

/** A container image tag (the part after `mysql:`), as the image reference grammar allows it. */
export const imageTagPattern = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$";

/**
 * A MySQL identifier for a database or a user that needs no quoting anywhere it is used (SQL, the image's
 * environment, shell scripts): letters, digits and underscores.
 */
export const identifierPattern = "^[A-Za-z0-9_]+$";
