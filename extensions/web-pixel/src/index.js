// The pixel's entry point, as Shopify's web pixel runtime loads it: `register` hands the API
// (analytics, browser, init, settings, customerPrivacy) to the pixel.
import { register } from '@shopify/web-pixels-extension';
import { createPixel } from './pixel.js';

register(createPixel);
