/**
 * The synthetic catalogue: categories (some consumable, each with a complementary category),
 * products with Zipf popularity within their category, a few complements per product
 * (bought together), and stores with their own assortment and stock.
 */
import { Rng } from './rng.js';

/** [name, consumable, base repurchase interval in days, index of the complementary base category] */
const BASE: [string, boolean, number, number][] = [
  ['Coffee', true, 21, 10],
  ['Tea', true, 28, 10],
  ['Snacks', true, 10, 9],
  ['Bakery', true, 7, 4],
  ['Dairy', true, 7, 3],
  ['Pet Food', true, 30, 23],
  ['Cleaning', true, 35, 12],
  ['Personal Care', true, 40, 8],
  ['Baby', true, 14, 7],
  ['Wine', true, 18, 2],
  ['Kitchenware', false, 0, 0],
  ['Home Decor', false, 0, 21],
  ['Garden', false, 0, 6],
  ['Toys', false, 0, 23],
  ['Stationery', false, 0, 15],
  ['Books', false, 0, 14],
  ['Electronics', false, 0, 17],
  ['Phone Accessories', false, 0, 16],
  ['Sportswear', false, 0, 19],
  ['Footwear', false, 0, 18],
  ['Outdoor', false, 0, 18],
  ['Lighting', false, 0, 11],
  ['Bedding', false, 0, 11],
  ['Gifts', false, 0, 13],
];
const ADJ = ['Classic', 'Organic', 'Deluxe', 'Mini', 'Family', 'Premium', 'Eco', 'Everyday', 'Vintage', 'Smart', 'Fresh', 'Handmade'];

export interface Category {
  name: string;
  consumable: boolean;
  complement: number;
}

export interface Catalogue {
  categories: Category[];
  /** Global category popularity, cumulative (for tastes and guests). */
  categoryCum: Float64Array;
  skus: string[];
  titles: string[];
  category: Int32Array;
  price: Float64Array;
  /** Typical days between repurchases (0: not a consumable). */
  intervalDays: Float32Array;
  /** Products of category c are catProducts[catStart[c] .. catStart[c+1]), most popular first, with cumulative Zipf weights catCum. */
  catProducts: Int32Array;
  catStart: Int32Array;
  catCum: Float64Array;
  /** COMPLEMENTS complements per product (row-major). */
  complements: Int32Array;
  stores: string[];
  /** stores × products: -1 not carried, else units in stock (0 = out of stock). */
  stock: Int32Array;
}

export const COMPLEMENTS = 3;
/** Zipf exponent of item popularity within a category. */
const ZIPF_S = 1.07;

export function buildCatalogue(seed: number, products: number, stores: number): Catalogue {
  const rng = new Rng(seed ^ 0x5eed);
  const nCat = Math.max(4, Math.min(200, Math.round(products / 25)));
  const categories: Category[] = [];
  for (let c = 0; c < nCat; c++) {
    const b = BASE[c % BASE.length];
    const round = Math.floor(c / BASE.length);
    const comp = round === 0 && b[3] < nCat ? b[3] : rng.int(nCat);
    categories.push({ name: round === 0 ? b[0] : `${b[0]} ${round + 1}`, consumable: b[1], complement: comp === c ? (c + 1) % nCat : comp });
  }
  const categoryCum = new Float64Array(nCat);
  let acc = 0;
  for (let c = 0; c < nCat; c++) categoryCum[c] = acc += 1 / Math.pow(c + 1, 0.6);

  // products → categories (each category gets at least one), sizes uneven
  const category = new Int32Array(products);
  const sizeCum = new Float64Array(nCat);
  acc = 0;
  for (let c = 0; c < nCat; c++) sizeCum[c] = acc += 0.5 + rng.next();
  for (let p = 0; p < products; p++) category[p] = p < nCat ? p : rng.pickCumulative(sizeCum);
  const catStart = new Int32Array(nCat + 1);
  for (let p = 0; p < products; p++) catStart[category[p] + 1]++;
  for (let c = 0; c < nCat; c++) catStart[c + 1] += catStart[c];
  const fill = catStart.slice(0, nCat);
  const catProducts = new Int32Array(products);
  const rank = new Int32Array(products);
  for (let p = 0; p < products; p++) {
    const c = category[p];
    rank[p] = fill[c] - catStart[c];
    catProducts[fill[c]++] = p;
  }
  const catCum = new Float64Array(products);
  for (let c = 0; c < nCat; c++) {
    let s = 0;
    for (let i = catStart[c]; i < catStart[c + 1]; i++) catCum[i] = s += 1 / Math.pow(i - catStart[c] + 1, ZIPF_S);
  }

  const width = Math.max(5, String(products).length);
  const skus: string[] = new Array(products);
  const titles: string[] = new Array(products);
  const price = new Float64Array(products);
  const intervalDays = new Float32Array(products);
  const basePrice = Array.from({ length: nCat }, () => Math.exp(Math.log(3) + rng.next() * Math.log(20)));
  for (let p = 0; p < products; p++) {
    const c = category[p];
    skus[p] = `SKU${String(p + 1).padStart(width, '0')}`;
    titles[p] = `${ADJ[rng.int(ADJ.length)]} ${categories[c].name} ${rank[p] + 1}`;
    price[p] = Math.max(0.5, Math.round(basePrice[c] * Math.exp(0.4 * rng.normal()) * 100) / 100);
    const base = BASE[c % BASE.length][2];
    intervalDays[p] = categories[c].consumable ? Math.max(3, base * Math.exp(0.3 * rng.normal())) : 0;
  }

  const complements = new Int32Array(products * COMPLEMENTS);
  for (let p = 0; p < products; p++) {
    const c = category[p];
    const cc = categories[c].complement;
    const chosen: number[] = [];
    for (let k = 0, tries = 0; k < COMPLEMENTS && tries < 20; tries++) {
      const fromCat = k < COMPLEMENTS - 1 ? cc : c;
      const q = catProducts[rng.pickCumulative(catCum, catStart[fromCat], catStart[fromCat + 1])];
      if (q === p || chosen.includes(q)) continue;
      chosen.push(q);
      k++;
    }
    while (chosen.length < COMPLEMENTS) chosen.push(chosen[0] ?? p);
    complements.set(chosen, p * COMPLEMENTS);
  }

  const storeIds = Array.from({ length: stores }, (_, s) => `S${String(s + 1).padStart(3, '0')}`);
  const stock = new Int32Array(stores * products);
  for (let s = 0; s < stores; s++) {
    for (let p = 0; p < products; p++) {
      const c = category[p];
      const size = catStart[c + 1] - catStart[c];
      const carry = 0.5 + 0.45 * (1 - rank[p] / size);
      stock[s * products + p] = rng.chance(carry) ? (rng.chance(0.07) ? 0 : 1 + rng.int(40)) : -1;
    }
  }
  return { categories, categoryCum, skus, titles, category, price, intervalDays, catProducts, catStart, catCum, complements, stores: storeIds, stock };
}
