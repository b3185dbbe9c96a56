export function calculateVat(amount, rate = 0.19) {
  if (amount < 0) {
    throw new Error('amount must not be negative');
  }
  return Math.round(amount * rate * 100) / 100;
}
