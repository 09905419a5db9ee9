/**
 * fast-check's generated sizes for every test file (vitest setupFiles). By default an arbitrary given only a
 * `maxLength` draws its lengths from its "small" size, at most 10: `fc.uint8Array({ maxLength: 70_000 })` never
 * made an array longer than 10 bytes, so every property meant to cross a 64 KiB threshold, or to see hundreds of
 * operations, ran on tiny inputs and could not fail where it meant to look. With this setting an explicit
 * `maxLength` is the bound the lengths are drawn up to; an arbitrary without one keeps the small default.
 */
import fc from 'fast-check';

fc.configureGlobal({ defaultSizeToMaxWhenMaxSpecified: true });
