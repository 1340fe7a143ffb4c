import t from 'tap';
import { outputModeName, parseOutputMode } from '../../lib/core/output-mode.js';

t.test('output modes parse case-insensitively and unknown ones are refused with Spark message', async (t) => {
  t.equal(parseOutputMode('Append'), 'append');
  t.equal(parseOutputMode('COMPLETE'), 'complete');
  t.throws(() => parseOutputMode('sometimes'), {
    code: 'ERR_INVALID_OPTION',
    message: "Unknown output mode sometimes. Accepted output modes are 'append', 'complete', 'update'",
  });
});

t.test('output mode names are Spark\'s OutputMode.toString', async (t) => {
  t.strictSame(['append', 'update', 'complete'].map((m) => outputModeName(parseOutputMode(m))), ['Append', 'Update', 'Complete']);
});
