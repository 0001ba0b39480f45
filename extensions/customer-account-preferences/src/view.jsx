// The preference center as Shopify's customer account web components (`s-*`): the same
// sections as the theme's preference-center block, then the wishlist. Pure: what it shows comes
// from its props, what the shopper does goes to `on`.

export function PreferenceCenter({ form, errors = {}, status, wishlist, shop, t, on }) {
	const err = (path) => errors[path] || undefined;
	return (
		<s-section heading={form.texts.title || t('heading')}>
			<s-stack direction="block" gap="base">
				{form.texts.intro ? <s-paragraph>{form.texts.intro}</s-paragraph> : null}
				{status === 'saved' ? <s-banner tone="success">{t('saved')}</s-banner> : null}
				{status === 'failed' ? <s-banner tone="critical">{t('saveFailed')}</s-banner> : null}

				<s-heading>{t('sizes')}</s-heading>
				{form.sizes.map((s) => (
					<s-select
						key={s.key}
						name={'sizes.' + s.key}
						label={s.label}
						value={s.value}
						error={err('sizes.' + s.key) || (s.stale ? t('stale') : undefined)}
						onChange={(e) => on.size(s.key, e.currentTarget.value)}
					>
						<s-option value="">{t('noSize')}</s-option>
						{s.options.map((o) => (
							<s-option key={o} value={o}>{o}</s-option>
						))}
					</s-select>
				))}

				<s-choice-list
					name="interests"
					label={t('interests')}
					multiple
					values={form.chosenInterests}
					error={err('interests')}
					onChange={(e) => on.interests(e.currentTarget.values)}
				>
					{form.interests.map((i) => (
						<s-choice key={i.key} value={i.key}>
							{i.stale ? `${i.label} (${t('stale')})` : i.label}
						</s-choice>
					))}
				</s-choice-list>

				<s-heading>{t('contact')}</s-heading>
				<s-checkbox name="communication.email" label={t('email')} checked={form.email} error={err('communication.email')} onChange={(e) => on.set('email', e.currentTarget.checked)} />
				<s-checkbox name="communication.sms" label={t('sms')} checked={form.sms} error={err('communication.sms')} onChange={(e) => on.set('sms', e.currentTarget.checked)} />
				<s-select
					name="communication.frequency"
					label={t('frequency')}
					value={form.frequency}
					error={err('communication.frequency') || (form.frequencyStale ? t('stale') : undefined)}
					onChange={(e) => on.set('frequency', e.currentTarget.value)}
				>
					<s-option value="">{t('frequencyNone')}</s-option>
					{(form.frequencies.includes(form.frequency) || !form.frequency ? form.frequencies : [...form.frequencies, form.frequency]).map((f) => (
						<s-option key={f} value={f}>{form.texts[f] || f}</s-option>
					))}
				</s-select>
				<s-date-field
					name="communication.pause_until"
					label={t('pauseUntil')}
					value={form.pauseUntil}
					error={err('communication.pause_until')}
					onChange={(e) => on.set('pauseUntil', e.currentTarget.value)}
				/>

				<s-heading>{t('consent')}</s-heading>
				<s-checkbox name="consent.personalization" label={form.texts.personalization_consent || 'personalization'} checked={form.personalization} onChange={(e) => on.set('personalization', e.currentTarget.checked)} />
				<s-checkbox name="consent.marketing" label={form.texts.marketing_consent || 'marketing'} checked={form.marketing} onChange={(e) => on.set('marketing', e.currentTarget.checked)} />

				<s-button variant="primary" loading={status === 'saving'} onClick={() => on.save()}>{t('save')}</s-button>

				<Wishlist items={wishlist} shop={shop} t={t} onRemove={on.remove} />
			</s-stack>
		</s-section>
	);
}

export function Wishlist({ items, shop, t, onRemove }) {
	return (
		<s-stack direction="block" gap="small">
			<s-heading>{t('wishlist')}</s-heading>
			{items.length === 0 ? <s-text>{t('wishlistEmpty')}</s-text> : null}
			{items.map((item) => (
				<s-stack key={item.product_id} direction="inline" gap="base" alignItems="center">
					{item.title && item.handle && shop ? (
						<s-link href={`https://${shop}/products/${encodeURIComponent(item.handle)}`}>{item.title}</s-link>
					) : (
						<s-text>{item.title || t('unavailable')}</s-text>
					)}
					<s-button
						variant="secondary"
						accessibilityLabel={t('remove', { title: item.title || item.product_id })}
						onClick={() => onRemove(item.product_id)}
					>
						×
					</s-button>
				</s-stack>
			))}
		</s-stack>
	);
}
