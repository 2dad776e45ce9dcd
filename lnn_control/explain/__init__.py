"""`lnn-control explain`: what a policy looks at while it flies, scored against where the target
really is (the simulator's segmentation mask), and the liquid network seen from inside (its NCP
wiring, each neuron's state and time constant). The saliency methods themselves live in
`lnn_control.policy.saliency`; this layer flies, scores, reports and draws."""
