export const overviewPath = '/';
