import test from 'ava';
import { l1CoefficientAt, LrSchedule } from '../../src/train/schedules.js';
import { ConfigError } from '../../src/errors.js';
import { readFixture } from '../sae/fixtures.js';

const fx = readFixture('schedules.json');

for (const c of fx.lr) {
  test(`LR schedule matches torch SequentialLR: ${c.name} total ${c.total} warm ${c.warm} decay ${c.decay} cycles ${c.cycles}`, (t) => {
    const s = new LrSchedule({
      lr: c.lr,
      lrSchedulerName: c.name,
      lrWarmUpSteps: c.warm,
      lrEnd: c.lr_end,
      lrDecaySteps: c.decay,
      nRestartCycles: c.cycles,
      totalSteps: c.total,
    });
    (c.lrs as number[]).forEach((want, k) => {
      const got = s.at(k);
      t.true(Math.abs(got - want) <= 1e-9 * c.lr, `step ${k}: got ${got}, want ${want}`);
    });
  });
}

for (const c of fx.l1) {
  test(`L1 warm-up matches SAELens L1Scheduler: λ ${c.l1_coefficient} warm ${c.l1_warm_up_steps}`, (t) => {
    (c.values as number[]).forEach((want, k) => t.is(l1CoefficientAt(k, c.l1_coefficient, c.l1_warm_up_steps), want, `step ${k}`));
  });
}

test('LR schedule rejects what SAELens/torch reject', (t) => {
  const base = { lr: 1e-3, lrSchedulerName: 'cosineannealing' as const, lrWarmUpSteps: 0, lrEnd: 0, lrDecaySteps: 10, nRestartCycles: 1, totalSteps: 100 };
  t.throws(() => new LrSchedule(base), { instanceOf: ConfigError, message: /lr_end = 0/ });
  t.throws(() => new LrSchedule({ ...base, lrDecaySteps: 0, lrWarmUpSteps: 100 }), { instanceOf: ConfigError });
  t.throws(() => new LrSchedule({ ...base, lrSchedulerName: 'cosineannealingwarmrestarts', lrDecaySteps: 0, nRestartCycles: 200 }), {
    instanceOf: ConfigError,
    message: /n_restart_cycles/,
  });
  t.throws(() => new LrSchedule({ ...base, lrSchedulerName: 'linear' as never }), { message: /lr_scheduler_name/ });
});
