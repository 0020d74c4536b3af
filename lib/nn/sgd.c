/* sgd.c - SGD with momentum and weight decay; see sgd.h. */
#include "nn/sgd.h"

#include <math.h>

double dx_poly_lr(double lr0, long t, long T, double power)
{
    return lr0 * pow(1.0 - (double)t / (double)T, power);
}

void dx_sgd_step(float *p, float *buf, const float *g, size_t n, float lr,
                 float momentum, float wd)
{
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        float b = momentum * buf[i] + d;
        buf[i] = b;
        p[i] = p[i] - lr * b;
    }
}
