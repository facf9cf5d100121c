// Which object keys are videos for the trigger: a prefix and a suffix filter. Pure logic.

export interface KeyFilterOptions {
  prefix?: string;
  suffix?: string;
  /** The suffix comparison ignores case unless set (.mp4 and .MP4 are both videos). */
  suffixCaseSensitive?: boolean;
}

export type KeyFilter = (key: string) => boolean;

export function createKeyFilter(options: KeyFilterOptions = {}): KeyFilter {
  const prefix = options.prefix ?? "";
  const caseSensitive = options.suffixCaseSensitive ?? false;
  const suffix = caseSensitive ? (options.suffix ?? "") : (options.suffix ?? "").toLowerCase();
  return (key) => {
    if (key === "" || key.endsWith("/")) return false; // folder markers are not objects to process
    if (!key.startsWith(prefix)) return false;
    return (caseSensitive ? key : key.toLowerCase()).endsWith(suffix);
  };
}
