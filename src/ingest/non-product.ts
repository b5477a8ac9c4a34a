/**
 * Stock codes that are not products (postage, fees, discounts, adjustments, samples, tests):
 * kept out of the catalogue and counted as skipped "non_product". The same expression as
 * ../shared/tools/reference_eval.py NON_PRODUCT, so evaluation protocols agree.
 */
export const NON_PRODUCT = /^(POST|DOT|M|D|C2|BANK CHARGES|AMAZONFEE|S|B|CRUK|PADS|ADJUST\d*|TEST\d*|gift_.*|DCGS.*)$/i;

/** Whether a (trimmed) stock code is a non-product code. */
export const isNonProduct = (sku: string): boolean => NON_PRODUCT.test(sku);
