import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyOf, errorsOf, formOf } from '../src/model.js';
import { center, preferences } from './helpers.mjs';

test('the form shows what is stored, stale values kept and marked', () => {
	const form = formOf(preferences, center);
	const tops = form.sizes.find((s) => s.key === 'tops');
	assert.deepEqual(tops, { key: 'tops', label: 'Tops', options: ['S', 'M', 'L', 'XXL'], value: 'XXL', stale: true });
	assert.equal(form.sizes.find((s) => s.key === 'shoes').stale, false);
	assert.deepEqual(form.interests.map((i) => [i.key, i.stale]), [['sale', false], ['gifts', false], ['vintage', true]]);
	assert.equal(form.pauseUntil, '2027-01-15');
	assert.equal(form.personalization, true);
});

test('an unchanged form puts back exactly what it read (stale values allowed as stored)', () => {
	assert.deepEqual(bodyOf(formOf(preferences, center)), {
		sizes: { tops: 'XXL', shoes: '39' },
		interests: ['sale', 'vintage'],
		communication: { email: true, sms: false, frequency: 'weekly', pause_until: '2027-01-15' },
		consent: { personalization: true, marketing: false },
	});
});

test('cleared choices are sent as null, a new shopper as the defaults', () => {
	const form = formOf({ sizes: {}, interests: [], communication: { email: false, sms: false, frequency: null }, consent: {} }, center);
	form.chosenInterests = ['gifts'];
	form.marketing = true;
	assert.deepEqual(bodyOf(form), {
		sizes: { tops: null, shoes: null },
		interests: ['gifts'],
		communication: { email: false, sms: false, frequency: null, pause_until: null },
		consent: { personalization: false, marketing: true },
	});
});

test('a 422 names fields by path', () => {
	const errors = errorsOf({ error: { code: 'validation_failed' }, errors: [
		{ field: 'sizes.tops', code: 'not_offered', message: 'The store does not offer size 47 in Tops' },
		{ field: 'interests[1]', code: 'not_offered', message: 'Not offered' },
	] });
	assert.deepEqual(errors, { 'sizes.tops': 'The store does not offer size 47 in Tops', interests: 'Not offered' });
});
