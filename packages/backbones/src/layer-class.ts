/**
 * tfjs-layers' layer classes by their registered names: tfjs-layers exports factories
 * (`tf.layers.conv2d`), not the classes, so a subclass reads its base class from the
 * serialisation registry, where tfjs-layers registers each one on import.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/**
 * The layer class tfjs-layers registered as `className`.
 * @param who - The subclass asking, named in the error when the class is not registered.
 * @throws naming `who` and `className` when tfjs-layers has not been imported.
 */
export function registeredLayerClass(className: string, who: string): typeof tfl.layers.Layer {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (!entry) {
    throw new Error(
      `${who}: tfjs-layers has not registered its ${className} class; import @tensorflow/tfjs-layers first`,
    );
  }
  return entry[0] as unknown as typeof tfl.layers.Layer;
}
