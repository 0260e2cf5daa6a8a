/**
 * Makes `tf.grad` work on the ops of tfjs-core under Node. tfjs-core's Node build ships
 * without the gradient functions of its ops (Sum, MatMul, ...); tfjs-layers' Node build
 * registers all of them when it loads. Modules that differentiate import this file.
 */
import '@tensorflow/tfjs-layers';
