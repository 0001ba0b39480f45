// Where Atelier runs (its APP_URL). Set it before `shopify app deploy`; the extension calls
// APP_URL/customer-account/* from Shopify's extension origin.
export const APP_URL = 'https://atelier.example.com';
