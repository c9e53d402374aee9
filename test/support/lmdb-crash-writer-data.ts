/** The data the crash writer stores at each seq, so the checker can tell a damaged event. */
export const expectedData = (stream: string, seq: number) => ({ stream, seq, pad: 'p'.repeat(seq % 97) });
