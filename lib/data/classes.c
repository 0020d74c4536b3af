/* classes.c - Cityscapes train-id names and palette. */
#include "data/classes.h"

#include <stddef.h>

static const struct {
    const char *name;
    uint8_t rgb[3];
} CLASSES[DX_NUM_CLASSES] = {
    {"road", {128, 64, 128}},       {"sidewalk", {244, 35, 232}},
    {"building", {70, 70, 70}},     {"wall", {102, 102, 156}},
    {"fence", {190, 153, 153}},     {"pole", {153, 153, 153}},
    {"traffic light", {250, 170, 30}}, {"traffic sign", {220, 220, 0}},
    {"vegetation", {107, 142, 35}}, {"terrain", {152, 251, 152}},
    {"sky", {70, 130, 180}},        {"person", {220, 20, 60}},
    {"rider", {255, 0, 0}},         {"car", {0, 0, 142}},
    {"truck", {0, 0, 70}},          {"bus", {0, 60, 100}},
    {"train", {0, 80, 100}},        {"motorcycle", {0, 0, 230}},
    {"bicycle", {119, 11, 32}},
};

/* Cityscapes label ids 0..33 and their colours (cityscapesScripts,
 * helpers/labels.py). */
static const uint8_t ID_COLORS[34][3] = {
    {0, 0, 0},       {0, 0, 0},       {0, 0, 0},       {0, 0, 0},
    {0, 0, 0},       {111, 74, 0},    {81, 0, 81},     {128, 64, 128},
    {244, 35, 232},  {250, 170, 160}, {230, 150, 140}, {70, 70, 70},
    {102, 102, 156}, {190, 153, 153}, {180, 165, 180}, {150, 100, 100},
    {150, 120, 90},  {153, 153, 153}, {153, 153, 153}, {250, 170, 30},
    {220, 220, 0},   {107, 142, 35},  {152, 251, 152}, {70, 130, 180},
    {220, 20, 60},   {255, 0, 0},     {0, 0, 142},     {0, 0, 70},
    {0, 60, 100},    {0, 0, 90},      {0, 0, 110},     {0, 80, 100},
    {0, 0, 230},     {119, 11, 32},
};

int dx_cityscapes_color_id(const uint8_t rgb[3])
{
    for (int id = 0; id < 34; id++)
        if (ID_COLORS[id][0] == rgb[0] && ID_COLORS[id][1] == rgb[1] &&
            ID_COLORS[id][2] == rgb[2])
            return id;
    return -1;
}

const char *dx_class_name(int id)
{
    return id >= 0 && id < DX_NUM_CLASSES ? CLASSES[id].name : NULL;
}

void dx_class_color(int id, uint8_t rgb[3])
{
    if (id >= 0 && id < DX_NUM_CLASSES) {
        for (int i = 0; i < 3; i++)
            rgb[i] = CLASSES[id].rgb[i];
        return;
    }
    if (id == DX_IGNORE) {
        rgb[0] = rgb[1] = rgb[2] = 0;
        return;
    }
    /* A fixed scramble, so custom label sets still get distinct colours. */
    uint32_t h = (uint32_t)id * 2654435761u;
    rgb[0] = (uint8_t)(64 + (h >> 8) % 192);
    rgb[1] = (uint8_t)(64 + (h >> 16) % 192);
    rgb[2] = (uint8_t)(64 + (h >> 24) % 192);
}
