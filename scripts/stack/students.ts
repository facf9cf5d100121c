// Student records as the course shipped them, made consistent with the grader's answers.
// student_data.json spells mr_bean's year "freshmen" while the grader's mapping expects
// "freshman": the records are loaded with such known misspellings of the year corrected, and
// every correction is returned so the loader can log it. Pure: no I/O, shared with
// `facerec students load`.

/** Known misspellings (lower case) → the spelling the grader's mapping uses. */
export const YEAR_SPELLINGS: Readonly<Record<string, string>> = {
  freshmen: "freshman",
  sophomores: "sophomore",
  juniors: "junior",
  seniors: "senior",
};

export interface YearCorrection {
  name: string;
  from: string;
  to: string;
}

/** The year with a known misspelling corrected; anything else is returned unchanged. */
export function normalizeYear(year: string): string {
  return YEAR_SPELLINGS[year.trim().toLowerCase()] ?? year;
}

/**
 * Copies of the records with their `year` normalised (other fields untouched, input not mutated),
 * and the list of corrections made.
 */
export function normalizeStudentYears<T extends { name: string; year?: unknown }>(
  records: readonly T[],
): { records: T[]; corrections: YearCorrection[] } {
  const corrections: YearCorrection[] = [];
  const normalized = records.map((record) => {
    if (typeof record.year !== "string") return { ...record };
    const year = normalizeYear(record.year);
    if (year === record.year) return { ...record };
    corrections.push({ name: record.name, from: record.year, to: year });
    return { ...record, year };
  });
  return { records: normalized, corrections };
}
