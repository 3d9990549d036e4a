/**
 * Geometric median by Weiszfeld iterations, as SAELens v1.5.0's `compute_geometric_median`
 * (start at the weighted mean; weights / max(‖p − m‖, eps); stop after `maxIter` iterations or
 * when the objective improves by no more than `ftol`·objective).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';

export interface GeometricMedianResult {
  median: tf.Tensor1D;
  iterations: number;
  termination: 'converged' | 'maxiter';
}

function weightedAverage(points: tf.Tensor2D, weights: tf.Tensor1D): tf.Tensor1D {
  const w = tf.div(weights, tf.sum(weights));
  return tf.reshape(tf.matMul(tf.expandDims(w, 0) as tf.Tensor2D, points), [points.shape[1]]);
}

function distances(points: tf.Tensor2D, median: tf.Tensor1D): tf.Tensor1D {
  return tf.sqrt(tf.sum(tf.square(tf.sub(points, tf.expandDims(median, 0))), 1)) as tf.Tensor1D;
}

export function geometricMedian(
  points: tf.Tensor2D,
  opts: { weights?: tf.Tensor1D; eps?: number; maxIter?: number; ftol?: number } = {},
): GeometricMedianResult {
  if (points.rank !== 2 || points.shape[0] < 1) {
    throw new ShapeError(`geometricMedian: points must be [n>0, d], got [${points.shape.join(', ')}]`);
  }
  const eps = opts.eps ?? 1e-6;
  const maxIter = opts.maxIter ?? 100;
  const ftol = opts.ftol ?? 1e-20;
  const weights = opts.weights ?? tf.ones([points.shape[0]]);
  let median = tf.tidy(() => weightedAverage(points, weights as tf.Tensor1D));
  const objective = (m: tf.Tensor1D): number =>
    tf.tidy(() => tf.sum(tf.mul(distances(points, m), weights)).dataSync()[0]!);
  let obj = objective(median);
  let iterations = 0;
  let termination: 'converged' | 'maxiter' = 'maxiter';
  for (let i = 0; i < maxIter; i++) {
    const prev = obj;
    const next = tf.tidy(() => {
      const newWeights = tf.div(weights, tf.maximum(distances(points, median), eps)) as tf.Tensor1D;
      return weightedAverage(points, newWeights);
    });
    median.dispose();
    median = next;
    obj = objective(median);
    iterations++;
    if (Math.abs(prev - obj) <= ftol * obj) {
      termination = 'converged';
      break;
    }
  }
  if (opts.weights === undefined) weights.dispose();
  return { median, iterations, termination };
}
