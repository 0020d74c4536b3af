/* act.c - ReLU and the residual add; see act.h. */
#include "act.h"

void dx_relu_forward(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0 ? x[i] : 0;
}

void dx_relu_backward(float *dy, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dy[i] = y[i] > 0 ? dy[i] : 0;
}

void dx_add_forward(float *y, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

void dx_add_backward(float *da, const float *dy, size_t n)
{
    for (size_t i = 0; i < n; i++)
        da[i] += dy[i];
}
